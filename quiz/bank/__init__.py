"""The YAML question bank: safe loading with line numbers, validation, import."""
