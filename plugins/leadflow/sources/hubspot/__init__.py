"""HubSpot: the CRM and marketing source, and the CRM leadflow writes back to."""
