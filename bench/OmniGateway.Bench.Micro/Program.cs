Console.WriteLine("micro: to be written");
