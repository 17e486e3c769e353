"""Salesforce, the CRM of most B2B sales teams (issue #26, in progress): so far its sandbox
(sandbox/), the custom fields leadflow writes (fields.py) and the settings (settings.py). The
client, streams and write-back that make it a leadflow source come next."""
