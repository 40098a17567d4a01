"""The course kit: graded items (``registry``), their checks and hints (``feedback``), the
grader of submitted notebooks (``grade``) and the notebooks' student and instructor copies
(``build``)."""
