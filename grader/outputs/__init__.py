"""Outputs: verdicts on the console and as JSON (`report`), the gradebook in the formats other
tools read (`export`, one module per format in `formats/`), the class report
(`instructor_report`), and the escaping of every string a submission controls (`escape`)."""
