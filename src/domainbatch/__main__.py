from domainbatch.cli.main import app

app()
