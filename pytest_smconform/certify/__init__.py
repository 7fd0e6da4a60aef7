"""Certification runs: listing and explaining requirements, bundles a third party can verify offline."""
