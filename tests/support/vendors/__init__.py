"""Vendor packages that exist only for tests; the registry scans here when
``HANDOFF_VENDOR_PACKAGES`` names this package."""
