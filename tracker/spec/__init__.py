"""Qualification specifications: models, the catalogue of installed qualifications, the importer."""

from tracker.spec.catalogue import list_qualifications, load_qualification
from tracker.spec.models import Criterion, Kind, Qualification, Unit

__all__ = ["Criterion", "Kind", "Qualification", "Unit", "list_qualifications", "load_qualification"]
