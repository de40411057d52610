# The README's two commands: `make run` and `make test`. Each creates .venv and installs the project first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck pytest pg-binaries browser scaleout-check bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# The page tests drive Debian's Chromium (Playwright never downloads a browser here); the CJK font
# makes the screenshots under tests/artifacts legible. `make run` does not need either.
browser:
	@command -v chromium >/dev/null && exit 0; \
	if [ "$$(id -u)" != 0 ]; then \
	  echo "缺少 Chromium：请以 root 运行 make test，或 apt-get install chromium fonts-wqy-microhei (chromium missing)" >&2; \
	  exit 1; fi; \
	export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq chromium fonts-wqy-microhei

# Embedded default: SQLite under ./var, demo data, a local SMTP sink, the API on http://127.0.0.1:8000
run: $(STAMP)
	$(BIN)/shouxin db upgrade
	SHOUXIN_DEMO_MODE=true $(BIN)/shouxin demo
	@echo ""
	@echo "登录：http://127.0.0.1:8000/login ，粘贴上表中某个角色的令牌（服务就绪后打开）。"
	@echo "先试：受理员登记一件投诉并派单；承办部门签收、答复；督办人员看 /staff/dashboard；"
	@echo "      公众在 http://127.0.0.1:8000/register 查看公示记录，/track 查询投诉进度；"
	@echo "      邮件在管理员的“邮件”页（/staff/admin/mail）；流程运行在 http://127.0.0.1:4200 。"
	@echo ""
	SHOUXIN_MAIL_SINK=true SHOUXIN_DEMO_MODE=true SHOUXIN_PREFECT_UI_URL=http://127.0.0.1:4200 $(BIN)/shouxin serve --with-flows

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy models api web flows notifications bench

# The suite runs on SQLite and on a throwaway PostgreSQL server (tests/pgserver.py) unless
# SHOUXIN_TEST_BACKENDS says otherwise; a fresh machine gets the server binaries here when run as root.
SHOUXIN_TEST_BACKENDS ?= sqlite,postgres
export SHOUXIN_TEST_BACKENDS
pg-binaries:
	@case "$(SHOUXIN_TEST_BACKENDS)" in *postgres*) ;; *) exit 0 ;; esac; \
	if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || [ -n "$$SHOUXIN_PG_BIN" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
	  echo "缺少 PostgreSQL 服务端：请以 root 运行 make test，或 apt-get install postgresql-15，" \
	       "或设 SHOUXIN_TEST_BACKENDS=sqlite (PostgreSQL server binaries missing)" >&2; exit 1; fi; \
	export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && \
	{ apt-get install -y -qq postgresql-15 || apt-get install -y -qq postgresql; }

# pytest's exit code 5 (no tests collected) fails the run: a suite that collects nothing must not pass.
pytest: $(STAMP) pg-binaries browser
	$(BIN)/pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$rc

test: lint typecheck pytest

# Scale-out mode end to end (docs/deploy.md): PostgreSQL, a Prefect server on it, a process work pool
# with every flow deployed, two workers, `shouxin serve --workers 2`; about two minutes, so not in `test`.
scaleout-check: $(STAMP) pg-binaries
	$(BIN)/python -m bench.scaleout_check

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
