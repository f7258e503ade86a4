from lowdose.cli import main

main()
