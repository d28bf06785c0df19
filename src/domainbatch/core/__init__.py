"""The pure core: no database, HTTP or web framework imports."""
