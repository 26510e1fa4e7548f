"""The contest rules: definitions, phases, attempts and grading."""
