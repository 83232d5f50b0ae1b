# nbgrader's configuration in a course server of a course that grades with nbgrader (campushub
# puts this folder first on JUPYTER_CONFIG_PATH): the course from $CAMPUSHUB_COURSE, and the
# exchange through campushub's grading service. Written by campushub; not for editing.
try:
    from campushub import nbgrader_exchange
except ImportError:  # a course image holds the module alone (see images/python)
    import campushub_nbgrader_exchange as nbgrader_exchange

nbgrader_exchange.configure(get_config())  # noqa: F821 (traitlets' config loader provides it)
