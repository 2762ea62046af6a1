# abicheck as a Python application, built from this repository's source.
{ lib, python3Packages }:

let
  root = toString ./..;
  # Only what the package needs: the sources, its data and its metadata.
  # (builtins.path with a filter: Nix 2.8 has no lib.fileset.)
  keep = [ "abicheck" "policies" "pyproject.toml" "README.md" ];
  src = builtins.path {
    name = "abicheck-source";
    path = ./..;
    filter = path: type:
      let
        rel = builtins.substring (builtins.stringLength root + 1) 4096 (toString path);
        top = builtins.head (builtins.split "/" rel);
      in
      builtins.elem top keep && builtins.match ".*(__pycache__|\\.pyc$).*" rel == null;
  };
in
python3Packages.buildPythonApplication {
  pname = "manylinux-abicheck";
  version = "0.1.0";
  pyproject = true;
  inherit src;

  build-system = [ python3Packages.setuptools ];
  dependencies = with python3Packages; [
    auditwheel
    isal
    packaging
    pyelftools
    rich
    typer
  ];
  # cpp-demangle is not packaged in nixpkgs; abicheck then shows C++ names
  # mangled. nixpkgs' typer may be newer than the pin (which only avoids a
  # slow pydantic import), so the pin is relaxed.
  pythonRemoveDeps = [ "cpp-demangle" ];
  pythonRelaxDeps = [ "typer" ];

  # The test suite needs readelf, zig-built test data and Nix itself; it runs
  # in this repository's CI. Here: the command must start and know its rules.
  installCheckPhase = ''
    runHook preInstallCheck
    $out/bin/abicheck explain AB101 > /dev/null
    $out/bin/abicheck policies --arch x86_64 | grep -q manylinux_2_28
    runHook postInstallCheck
  '';
  doInstallCheck = true;

  meta = {
    description = "Check ELF objects, GPU-kernel build trees and wheels against manylinux policies";
    mainProgram = "abicheck";
    platforms = lib.platforms.linux;
  };
}
