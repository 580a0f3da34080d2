"""FHIR R4 Bundles: validation, segmentation by resource type, keyword extraction."""
