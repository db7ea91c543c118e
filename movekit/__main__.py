from movekit.cli import main

main()
