"""Importing CSV and XLSX files into any object, through the record service.

``run_import(runtime, actor, object_name, path, ImportOptions(...), progress)`` runs (or
with ``dry_run`` checks) an import and returns an ImportReport; every run is a job in
``tessera_import_job`` (core/imports/jobs.py) with its progress, so a web page can follow
it and an interrupted run resumes.
"""

from core.imports.jobs import describe as describe_job
from core.imports.mapping import MAPPING_FORMAT, MappingError, read_mapping, read_mapping_file
from core.imports.runner import ImportFailed, ImportOptions, ImportReport, Rejection, run_import
from core.imports.sources import SourceError

__all__ = ["run_import", "ImportOptions", "ImportReport", "ImportFailed", "Rejection", "MappingError", "SourceError",
           "read_mapping", "read_mapping_file", "describe_job", "MAPPING_FORMAT"]
