# cmake -P script: installs the tgk build TGK_BUILD_DIR under TGK_WORK_DIR/prefix and checks the
# installed files (headers, both libraries, the SONAME, the package's version rules). Then it
# builds and runs the programs in TGK_CONSUMER_SOURCE twice: as a CMake project
# (find_package(tgk 0.2): main.cc with tgk::kernel_author, fast_math.cc with -ffast-math and
# tgk::tgk, then tgk::tgk_static) and with bare compiler command lines from pkg-config
# (tgk-kernel-author.pc, tgk.pc), run through a shell as a Makefile would. It compiles every
# installed header with tgk.pc's flags alone, and last builds and runs the projects under
# TGK_EXAMPLES_DIR (the server, the RMSNorm kernel family). Any failing step stops with its
# output.
#
# Inputs: TGK_SOURCE_DIR, TGK_BUILD_DIR, TGK_CONSUMER_SOURCE, TGK_EXAMPLES_DIR, TGK_WORK_DIR,
# TGK_VERSION, CMAKE_CXX_COMPILER, CMAKE_GENERATOR, TGK_CONSUMER_FLAGS (extra compiler flags,
# space separated).
cmake_minimum_required(VERSION 3.22)

foreach(input TGK_SOURCE_DIR TGK_BUILD_DIR TGK_CONSUMER_SOURCE TGK_EXAMPLES_DIR TGK_WORK_DIR
              TGK_VERSION CMAKE_CXX_COMPILER CMAKE_GENERATOR)
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
set(expected_files ${model_headers} tgk/version.h)
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
                tgk-kernel-author.pc libtgk.a libtgk.so)
  file(GLOB_RECURSE found ${prefix}/*/${pattern})
  if(NOT found)
    message(FATAL_ERROR "not installed: ${pattern}")
  endif()
endforeach()
file(GLOB_RECURSE shared_library ${prefix}/*/libtgk.so)
string(REGEX MATCH "^[0-9]+\\.[0-9]+" soversion ${TGK_VERSION})
run_step("readelf -d libtgk.so" readelf -d ${shared_library})
if(NOT step_output MATCHES "Library soname: \\[libtgk\\.so\\.${soversion}\\]")
  message(FATAL_ERROR "libtgk.so has no SONAME libtgk.so.${soversion}:\n${step_output}")
endif()
# Calling kernels changes nothing in how the caller compiles (no -ffp-contract=off, no
# -fno-fast-math, no Highway or OpenMP flags); writing them brings the contract.
file(GLOB_RECURSE targets_file ${prefix}/*/tgkTargets.cmake)
file(READ ${targets_file} exported)
foreach(library tgk tgk_static)
  string(REGEX MATCH "set_target_properties\\(tgk::${library} PROPERTIES[^)]*\\)" properties
         "${exported}")
  if(NOT properties OR properties MATCHES "INTERFACE_COMPILE_(OPTIONS|DEFINITIONS)")
    message(FATAL_ERROR "tgk::${library} changes its consumers' compile flags:\n${properties}")
  endif()
endforeach()
string(REGEX MATCH "set_target_properties\\(tgk::kernel_author PROPERTIES[^)]*\\)" properties
       "${exported}")
if(NOT properties MATCHES "INTERFACE_COMPILE_OPTIONS \"[^\"]*-ffp-contract=off")
  message(FATAL_ERROR "tgk::kernel_author does not carry -ffp-contract=off:\n${exported}")
endif()
file(GLOB_RECURSE pc_file ${prefix}/*/tgk.pc)
get_filename_component(pc_dir ${pc_file} DIRECTORY)
get_filename_component(libdir ${pc_dir} DIRECTORY)

# configure_project(NAME SOURCE_DIR): configures a CMake project against the installed tgk,
# with the consumer flags, into TGK_WORK_DIR/NAME.
function(configure_project name source_dir)
  run_step("configuring ${name}"
    ${CMAKE_COMMAND} -S ${source_dir} -B ${TGK_WORK_DIR}/${name} -G ${CMAKE_GENERATOR}
      -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER}
      "-DCMAKE_CXX_FLAGS=${TGK_CONSUMER_FLAGS}" -DCMAKE_PREFIX_PATH=${prefix}
      -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
endfunction()

# The package's version rules: SameMinorVersion, so MAJOR.MINOR finds it (0.2 for 0.2.x) and
# the neighbouring minor versions and the next major do not.
string(REGEX MATCH "^([0-9]+)\\.([0-9]+)" _ ${TGK_VERSION})
math(EXPR next_minor "${CMAKE_MATCH_2} + 1")
math(EXPR next_major "${CMAKE_MATCH_1} + 1")
set(wrong_versions ${CMAKE_MATCH_1}.${next_minor} ${next_major}.0)
if(CMAKE_MATCH_2 GREATER 0)
  math(EXPR previous_minor "${CMAKE_MATCH_2} - 1")
  list(APPEND wrong_versions ${CMAKE_MATCH_1}.${previous_minor})
endif()
set(version_probe ${TGK_WORK_DIR}/version_probe)
file(MAKE_DIRECTORY ${version_probe})
file(WRITE ${version_probe}/CMakeLists.txt "cmake_minimum_required(VERSION 3.22)
project(version_probe LANGUAGES CXX)
foreach(wrong ${wrong_versions})
  find_package(tgk \${wrong} CONFIG QUIET)
  if(tgk_FOUND)
    message(FATAL_ERROR \"find_package(tgk \${wrong}) found tgk \${tgk_VERSION}\")
  endif()
endforeach()
find_package(tgk ${soversion} CONFIG REQUIRED)
if(NOT tgk_VERSION STREQUAL ${TGK_VERSION} OR NOT TARGET tgk::kernel_author)
  message(FATAL_ERROR \"find_package(tgk ${soversion}) gave \${tgk_VERSION}\")
endif()
")
configure_project(version_probe_build ${version_probe})

# ---- find_package(tgk 0.2) -----------------------------------------------------------------
set(cmake_build ${TGK_WORK_DIR}/cmake)
configure_project(cmake ${TGK_CONSUMER_SOURCE})
run_step("building the consumer project" ${CMAKE_COMMAND} --build ${cmake_build})
foreach(program consumer fast_math_tgk fast_math_tgk_static)
  check_one_openmp_runtime(${cmake_build}/${program})
  run_step("running ${program} (find_package)" ${cmake_build}/${program})
  message(STATUS "find_package, ${program}: ${step_output}")
endforeach()

# ---- pkg-config ---------------------------------------------------------------------------
find_program(PKG_CONFIG pkg-config REQUIRED)
set(pc_env ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${pc_dir})
foreach(package tgk tgk-kernel-author)
  run_step("pkg-config --modversion ${package}" ${pc_env} ${PKG_CONFIG} --modversion ${package})
  if(NOT step_output STREQUAL TGK_VERSION)
    message(FATAL_ERROR "${package}.pc has version ${step_output}, not ${TGK_VERSION}")
  endif()
  run_step("pkg-config --cflags --libs ${package}" ${pc_env} ${PKG_CONFIG} --cflags --libs ${package})
  set(pc_flags_${package} "${step_output}")
  # Makefiles paste this output into a shell command line, `$(pkg-config ...)` word-splits it:
  # both read it the same only without shell syntax in it.
  if(step_output MATCHES "[][()|;&<>\"'\\\\$`*?{}~#]")
    message(FATAL_ERROR "pkg-config output needs shell quoting: ${step_output}")
  endif()
endforeach()
# main.cc checks the Highway definitions; contraction it cannot see.
if(NOT pc_flags_tgk-kernel-author MATCHES "(^| )-ffp-contract=off( |$)")
  message(FATAL_ERROR "tgk-kernel-author.pc lacks -ffp-contract=off: ${pc_flags_tgk-kernel-author}")
endif()
if(pc_flags_tgk MATCHES "-ffp-contract|-fno-fast-math|-fopenmp|-DHWY")
  message(FATAL_ERROR "tgk.pc changes its consumers' compile flags: ${pc_flags_tgk}")
endif()

# pkg_config_program(NAME SOURCE PACKAGE [FLAGS...]): compiles and links SOURCE with the flags
# of PACKAGE (and FLAGS) through a shell, then runs it.
function(pkg_config_program name source package)
  list(JOIN ARGN " " extra_flags)
  set(program ${TGK_WORK_DIR}/${name})
  run_step("compiling ${name} with pkg-config ${package}"
    ${pc_env} sh -c "\"${CMAKE_CXX_COMPILER}\" -std=c++20 -O2 -Wall -Wextra -Werror \
${TGK_CONSUMER_FLAGS} ${extra_flags} -I\"${TGK_CONSUMER_SOURCE}\" \"${source}\" \
-o \"${program}\" $(\"${PKG_CONFIG}\" --cflags --libs ${package}) -Wl,-rpath,\"${libdir}\"")
  check_one_openmp_runtime(${program})
  run_step("running ${name} (pkg-config)" ${program})
  message(STATUS "pkg-config, ${name}: ${step_output}")
endfunction()
pkg_config_program(consumer_pkg_config ${TGK_CONSUMER_SOURCE}/main.cc tgk-kernel-author)
# Linked with -ffast-math too: its startup code sets flush-to-zero for the whole process.
pkg_config_program(fast_math_pkg_config ${TGK_CONSUMER_SOURCE}/fast_math.cc tgk -ffast-math)

# Every installed header that needs no foreach_target pass (main.cc covers the per-target
# ones) compiles with tgk.pc's flags alone: none includes a header left uninstalled, and none
# needs Highway or OpenMP.
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

# ---- examples: what users copy --------------------------------------------------------------
foreach(example server rmsnorm)
  configure_project(example_${example} ${TGK_EXAMPLES_DIR}/${example})
  run_step("building examples/${example}" ${CMAKE_COMMAND} --build ${TGK_WORK_DIR}/example_${example})
  check_one_openmp_runtime(${TGK_WORK_DIR}/example_${example}/${example})
  run_step("running examples/${example}" ${TGK_WORK_DIR}/example_${example}/${example})
  message(STATUS "examples/${example}: ${step_output}")
endforeach()
