"""Salesforce-compatible sandbox: an in-memory org served over HTTPS for demos and tests.

org.py holds the records and the API's rules (schema.py the metadata, soql.py the queries;
ids from ../ids.py), bulk.py the Bulk API 2.0 jobs, routes.py the REST paths, server.py auth,
the daily allocation and TLS (tls.py), synthetic.py the seeded org, embedded.py the commands.
Nothing is imported here: `leadflow`'s parser reads embedded.py, and the server's TLS would
double every command's start-up.
"""
