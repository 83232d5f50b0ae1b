"""The links service: course-aware nbgitpuller links (see ``app``, ``rules``, ``store``)."""
