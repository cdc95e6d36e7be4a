#!/usr/bin/env node
// The trainkit-datagen command. All logic is in ../datagen-cli.ts; this file only connects it to the process.
import { main } from "../datagen-cli.ts";

process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
