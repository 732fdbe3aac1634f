// The kernels of `tgk run` and `tgk bench`, in bench order: a new kernel adds its factory here.
#include "kernel_command.h"

namespace tgk::tool {

std::unique_ptr<KernelCommand> MakeKktCommand();
std::unique_ptr<KernelCommand> MakeFlashAttnVecCommand();
std::unique_ptr<KernelCommand> MakeSdpaCommand();
std::unique_ptr<KernelCommand> MakeTqEncodeCommand();
std::unique_ptr<KernelCommand> MakeTqDequantCommand();
std::unique_ptr<KernelCommand> MakeGdnChunkCommand();

std::vector<std::unique_ptr<KernelCommand>> MakeKernelCommands() {
  std::vector<std::unique_ptr<KernelCommand>> commands;
  commands.push_back(MakeKktCommand());
  commands.push_back(MakeFlashAttnVecCommand());
  commands.push_back(MakeSdpaCommand());
  commands.push_back(MakeTqEncodeCommand());
  commands.push_back(MakeTqDequantCommand());
  commands.push_back(MakeGdnChunkCommand());
  return commands;
}

}  // namespace tgk::tool
