"""The source systems leadflow reads and writes back to, one package each (hubspot/ today).

Each package owns everything vendor-specific: its client (every endpoint it calls), its
streams, its write-back, its doctor checks and its sandbox.
"""
