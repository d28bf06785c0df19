"""The ``domainbatch`` command line."""
