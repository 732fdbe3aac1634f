// The kernels of `tgk run` and `tgk bench`, in bench order: a new kernel adds its factory here.
#include "kernel_command.h"

namespace tgk::tool {

std::unique_ptr<KernelCommand> MakeKktCommand();

std::vector<std::unique_ptr<KernelCommand>> MakeKernelCommands() {
  std::vector<std::unique_ptr<KernelCommand>> commands;
  commands.push_back(MakeKktCommand());
  return commands;
}

}  // namespace tgk::tool
