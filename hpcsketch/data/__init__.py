"""Data: offline data sets (``datasets``) and their split over logical clients (``partition``)."""
