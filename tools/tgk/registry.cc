// The kernels of `tgk run` and `tgk bench`, in bench order: the factories that the built
// families' sources.cmake name (TGK_<family>_COMMAND_FACTORIES), listed by CMake in
// kernel_commands.inc.
#include "kernel_command.h"

namespace tgk::tool {

#define TGK_KERNEL_COMMAND(factory) std::unique_ptr<KernelCommand> factory();
#include "kernel_commands.inc"
#undef TGK_KERNEL_COMMAND

std::vector<std::unique_ptr<KernelCommand>> MakeKernelCommands() {
  std::vector<std::unique_ptr<KernelCommand>> commands;
#define TGK_KERNEL_COMMAND(factory) commands.push_back(factory());
#include "kernel_commands.inc"
#undef TGK_KERNEL_COMMAND
  return commands;
}

}  // namespace tgk::tool
