"""Open311 GeoReport v2 adapter over CaseService: services from the catalogue, requests as cases."""
