"""The ground every other package stands on: settings, the segment types, path display and the error
family. It imports nothing else of Omnidex, so any layer may import it."""
