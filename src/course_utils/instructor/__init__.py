"""Tools for instructors: the student edition and grading. Not needed to read the course.

- ``assign``: student notebooks, every solution replaced by a placeholder (``make student``),
  or nbgrader's source notebooks;
- ``grade``: submissions executed and marked with the exercises' own checks.

They need nbformat, nbclient and PyYAML, declared by the extra ``course-utils[instructor]``::

    pip install "course-utils[instructor] @ git+https://github.com/cnn-mech-interp/cnn-mech-interp-course"
"""

try:  # a clear message instead of a traceback deep inside a module
    import nbformat, nbclient, yaml  # noqa: F401
except ImportError as missing:
    raise ImportError(f"course_utils.instructor needs {missing.name}, which a learner's install "
                      f"leaves out: pip install 'course-utils[instructor]'") from missing
