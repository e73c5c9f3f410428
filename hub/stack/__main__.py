from hub.stack.cli import app

app(prog_name="scripts/stack")
