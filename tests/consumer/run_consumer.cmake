# cmake -P script: installs the tgk build TGK_BUILD_DIR under TGK_WORK_DIR/prefix, checks the
# installed files, then builds and runs the program in TGK_CONSUMER_SOURCE twice: as a CMake
# project (find_package(tgk) -> tgk::tgk) and with a bare compiler command line from
# `pkg-config --cflags --libs tgk`, run through a shell as a Makefile would; last, it compiles
# every installed header. Any failing step stops with its output.
#
# Inputs: TGK_SOURCE_DIR, TGK_BUILD_DIR, TGK_CONSUMER_SOURCE, TGK_WORK_DIR, CMAKE_CXX_COMPILER,
# CMAKE_GENERATOR, TGK_CONSUMER_FLAGS (extra compiler flags, space separated).
cmake_minimum_required(VERSION 3.22)

foreach(input TGK_SOURCE_DIR TGK_BUILD_DIR TGK_CONSUMER_SOURCE TGK_WORK_DIR CMAKE_CXX_COMPILER
              CMAKE_GENERATOR)
  if(NOT DEFINED ${input})
    message(FATAL_ERROR "run_consumer.cmake: -D${input}=... is required")
  endif()
endforeach()

# run_step(NAME COMMAND ...): runs the command, stops with its output when it fails.
function(run_step name)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${name} failed (${rc}):\n${out}")
  endif()
  string(STRIP "${out}" out)
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

# One OpenMP runtime per process: a program that loads both libgomp and libomp has two thread
# pools, each unaware of the other.
function(check_one_openmp_runtime program)
  run_step("ldd ${program}" ldd ${program})
  if(step_output MATCHES "libgomp" AND step_output MATCHES "libomp")
    message(FATAL_ERROR "${program} loads two OpenMP runtimes:\n${step_output}")
  endif()
endfunction()

set(prefix ${TGK_WORK_DIR}/prefix)
file(REMOVE_RECURSE ${TGK_WORK_DIR})
run_step("cmake --install" ${CMAKE_COMMAND} --install ${TGK_BUILD_DIR} --prefix ${prefix})

# ---- the installed files ------------------------------------------------------------------
# Every header of the programming model (users write kernels of their own with the per-target
# ones) and every kernel family's public header.
file(GLOB_RECURSE model_headers RELATIVE ${TGK_SOURCE_DIR}/include ${TGK_SOURCE_DIR}/include/*.h)
set(expected_files ${model_headers})
file(GLOB family_files ${TGK_SOURCE_DIR}/src/kernels/*/sources.cmake)
foreach(file IN LISTS family_files)
  get_filename_component(family_dir ${file} DIRECTORY)
  get_filename_component(family ${family_dir} NAME)
  include(${file})
  foreach(header IN LISTS TGK_${family}_PUBLIC_HEADERS)
    get_filename_component(header_name ${header} NAME)
    list(APPEND expected_files tgk/kernels/${header_name})
  endforeach()
endforeach()
foreach(file IN LISTS expected_files)
  if(NOT EXISTS ${prefix}/include/${file})
    message(FATAL_ERROR "not installed: include/${file}")
  endif()
endforeach()
foreach(pattern tgkConfig.cmake tgkConfigVersion.cmake tgkTargets.cmake TgkFindHwy.cmake tgk.pc
                libtgk.*)
  file(GLOB_RECURSE found ${prefix}/*/${pattern})
  if(NOT found)
    message(FATAL_ERROR "not installed: ${pattern}")
  endif()
endforeach()
# main.cc checks the Highway definitions itself; contraction it cannot see.
file(GLOB_RECURSE targets_file ${prefix}/*/tgkTargets.cmake)
file(READ ${targets_file} exported)
if(NOT exported MATCHES "INTERFACE_COMPILE_OPTIONS \"[^\"]*-ffp-contract=off")
  message(FATAL_ERROR "tgk::tgk does not carry -ffp-contract=off:\n${exported}")
endif()
file(GLOB_RECURSE pc_file ${prefix}/*/tgk.pc)
get_filename_component(pc_dir ${pc_file} DIRECTORY)
get_filename_component(libdir ${pc_dir} DIRECTORY)

# ---- find_package(tgk) ----------------------------------------------------------------------
set(cmake_build ${TGK_WORK_DIR}/cmake)
run_step("configuring the consumer project"
  ${CMAKE_COMMAND} -S ${TGK_CONSUMER_SOURCE} -B ${cmake_build} -G ${CMAKE_GENERATOR}
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER}
    "-DCMAKE_CXX_FLAGS=${TGK_CONSUMER_FLAGS}" -DCMAKE_PREFIX_PATH=${prefix}
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
run_step("building the consumer project" ${CMAKE_COMMAND} --build ${cmake_build})
check_one_openmp_runtime(${cmake_build}/consumer)
run_step("running the consumer (find_package)" ${cmake_build}/consumer)
message(STATUS "find_package: ${step_output}")

# ---- pkg-config ---------------------------------------------------------------------------
find_program(PKG_CONFIG pkg-config REQUIRED)
set(pc_env ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${pc_dir})
run_step("pkg-config --cflags --libs tgk" ${pc_env} ${PKG_CONFIG} --cflags --libs tgk)
set(pc_flags "${step_output}")
# Makefiles paste this output into a shell command line, `$(pkg-config ...)` word-splits it:
# both read it the same only without shell syntax in it. main.cc checks the Highway
# definitions; contraction it cannot see.
if(pc_flags MATCHES "[][()|;&<>\"'\\\\$`*?{}~#]")
  message(FATAL_ERROR "pkg-config output needs shell quoting: ${pc_flags}")
endif()
if(NOT pc_flags MATCHES "(^| )-ffp-contract=off( |$)")
  message(FATAL_ERROR "pkg-config output lacks -ffp-contract=off: ${pc_flags}")
endif()
set(pc_program ${TGK_WORK_DIR}/consumer_pkg_config)
run_step("compiling the consumer with pkg-config flags"
  ${pc_env} sh -c "\"${CMAKE_CXX_COMPILER}\" -std=c++20 -O2 -Wall -Wextra -Werror \
${TGK_CONSUMER_FLAGS} -I\"${TGK_CONSUMER_SOURCE}\" \"${TGK_CONSUMER_SOURCE}/main.cc\" \
-o \"${pc_program}\" $(\"${PKG_CONFIG}\" --cflags --libs tgk) -Wl,-rpath,\"${libdir}\"")
check_one_openmp_runtime(${pc_program})
run_step("running the consumer (pkg-config)" ${pc_program})
message(STATUS "pkg-config: ${step_output}")

# Every installed header that needs no foreach_target pass (main.cc covers the per-target
# ones) compiles with the package's flags alone: none includes a header left uninstalled.
set(all_headers ${TGK_WORK_DIR}/all_headers.cc)
file(WRITE ${all_headers} "")
foreach(file IN LISTS expected_files)
  if(NOT file MATCHES "-inl\\.h$")
    file(APPEND ${all_headers} "#include \"${file}\"\n")
  endif()
endforeach()
run_step("compiling every installed header"
  ${pc_env} sh -c "\"${CMAKE_CXX_COMPILER}\" -std=c++20 -fsyntax-only -Wall -Wextra -Werror \
\"${all_headers}\" $(\"${PKG_CONFIG}\" --cflags tgk)")
