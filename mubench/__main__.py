from mubench.cli.app import main

main()
