// The `cook` subcommands. Each lives in its own file under src/cli and registers itself on the
// top-level app; its callback runs the command and throws cook::Error on bad input.
#pragma once

namespace CLI {
class App;
}

namespace cook::cli {

void add_tokenize_commands(CLI::App& app);  // tokenize, detokenize
void add_data_command(CLI::App& app);       // data prepare | info
void add_forward_command(CLI::App& app);    // forward
void add_train_command(CLI::App& app);      // train
void add_eval_command(CLI::App& app);       // eval
void add_generate_command(CLI::App& app);   // generate
void add_convert_command(CLI::App& app);    // convert
void add_export_command(CLI::App& app);     // export
void add_compare_command(CLI::App& app);    // compare
void add_moe_command(CLI::App& app);        // moe dump | split | router
void add_prune_command(CLI::App& app);      // prune masks
void add_compress_command(CLI::App& app);   // compress
void add_report_command(CLI::App& app);     // report
void add_launch_command(CLI::App& app);     // launch (local workers with torchrun's environment)

}  // namespace cook::cli
