# The two commands a newcomer needs; each sets up everything it uses on a fresh machine.
#   make demo   start the local campus on 127.0.0.1 (Ctrl-C stops it)
#   make test   run the test suite (real hub, proxy, identity provider, git server, chromium)
VENV ?= .venv
export VENV

.PHONY: demo test setup-demo setup-test lint docs

demo: setup-demo
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/campushub demo

test: setup-test
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/python -m pytest $(PYTEST_ARGS)

setup-demo:
	bash scripts/setup.sh demo

setup-test:
	bash scripts/setup.sh test

lint: setup-test
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

docs: setup-test
	$(VENV)/bin/python -m sphinx -W --keep-going -b html docs docs/_build/html
