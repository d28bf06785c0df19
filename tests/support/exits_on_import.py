"""A module that exits when imported: a processor path an operator may mistype into."""

raise SystemExit("this module exits on import")
