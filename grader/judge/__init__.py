"""Judge-only code: never in the student handout, never mounted in the student's sandbox."""
