from responder.cli.main import main

main(prog_name="responder")
