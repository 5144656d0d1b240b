# Two commands from a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: test demo bench install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	# The real OPA engine in-process, for parity tests. Its metadata asks for
	# Python 3.14 but the wheel runs on 3.11 (see FINDINGS.md).
	$(BIN)/python -m pip install --quiet --no-deps --ignore-requires-python 'opa-golib-python-bindings==0.4.4'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

demo: $(STAMP)
	$(BIN)/accessctl demo

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV)
