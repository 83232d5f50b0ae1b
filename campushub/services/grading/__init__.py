"""The grading service: nbgrader's exchange for every course that grades (``campushub-grading``)."""
