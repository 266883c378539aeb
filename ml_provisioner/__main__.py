from ml_provisioner.cli import main

main()
