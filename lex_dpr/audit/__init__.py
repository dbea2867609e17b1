"""Auditing adapters and checkpoints from their configs and tensor headers, without loading weights."""

from __future__ import annotations

from lex_dpr.audit.checks import AuditCheck, AuditReport, audit, audit_matrix
from lex_dpr.audit.describe import ModelDescription, describe_path
from lex_dpr.audit.headers import TensorInfo, read_safetensors_header
from lex_dpr.audit.models import Adapter, BaseModel
from lex_dpr.audit.pickle_scan import PickleScan, scan_pickle_bytes, scan_pickle_file
from lex_dpr.audit.smoke import smoke_test

__all__ = ["Adapter", "AuditCheck", "AuditReport", "BaseModel", "ModelDescription", "PickleScan", "TensorInfo", "audit",
           "audit_matrix", "describe_path", "read_safetensors_header", "scan_pickle_bytes", "scan_pickle_file",
           "smoke_test"]
