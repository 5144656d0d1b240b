"""Request files in: load, validate, scaffold (`request new`), the schema, grants derived from a request.
Imports only tools.core.
"""
