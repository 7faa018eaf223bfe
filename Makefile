# The two set-up commands (each self-sufficient on a fresh machine):
#   make run    set up if needed, then open the workstation on the bundled demo collection
#               (with no display: analyse it headless and print the summary table)
#   make test   set up if needed, then run the whole test suite
VENV ?= .venv
STAMP := $(VENV)/.installed

.PHONY: run test setup bench demo-audio bundle bundle-check clean

run: $(STAMP)
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then \
	  $(VENV)/bin/workstation gui resources/demo; \
	else \
	  echo "no display found: analysing the demo collection headless"; \
	  $(VENV)/bin/workstation demo; \
	fi

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/python -m pytest -q $(PYTEST_ARGS)

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt packaging/bootstrap.sh
	bash packaging/bootstrap.sh

bench: $(STAMP)
	$(VENV)/bin/python benchmarks/throughput.py
	$(VENV)/bin/python benchmarks/accuracy.py
	$(VENV)/bin/python benchmarks/monophony.py
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/python benchmarks/gui_view.py
	$(VENV)/bin/python benchmarks/similarity.py scale
	$(VENV)/bin/python benchmarks/similarity.py quality

# The desktop bundle (PyInstaller, a few minutes; not part of `make test`): dist/workstation/
# and dist/workstation-VERSION-linux-ARCH.tar.gz with install.sh; bundle-check runs it in a
# clean environment (packaging/check.sh).
bundle: $(STAMP)
	nice -n 10 bash packaging/build.sh

bundle-check:
	bash packaging/check.sh

demo-audio: $(STAMP)
	$(VENV)/bin/python -m workstation.training.demo --out resources/demo

clean:
	rm -rf $(VENV) .pytest_cache
