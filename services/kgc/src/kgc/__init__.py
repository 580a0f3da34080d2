"""Key Generation Center: system parameters, enrolment, tokens, directory, tracing."""
