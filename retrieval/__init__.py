"""From a query to ranked segments: filters, first-stage candidates and their fusion."""
