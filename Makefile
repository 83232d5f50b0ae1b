# Shortcuts for the README's two commands; each sets up everything it uses on a fresh machine.
#   make demo   start the local campus on 127.0.0.1 (Ctrl-C stops it)   = scripts/demo.sh
#   make test   run the test suite                                       = scripts/test.sh
#   make screenshots   the guides' pictures, from the persona journeys   = scripts/screenshots.sh
.PHONY: demo test lint docs screenshots

demo:
	@bash scripts/demo.sh $(DEMO_ARGS)

test:
	@bash scripts/test.sh $(PYTEST_ARGS)

lint:
	bash scripts/setup.sh test && .venv/bin/ruff check . && .venv/bin/ruff format --check .

docs:
	bash scripts/setup.sh test && .venv/bin/python -m sphinx -W --keep-going -b html docs docs/_build/html

screenshots:
	@bash scripts/screenshots.sh
