using DistTrainer.Cli;

return Cli.Run(args);
