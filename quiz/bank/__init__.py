"""Question banks: safe YAML loading with line numbers, workbooks (.xlsx) with cells, one validator,
import in one transaction, export (YAML or xlsx)."""
