"""Omnidex: self-hosted multimodal search over PDFs, slides, images, audio and video."""

__version__ = "0.1.0"
