# A package set made from RPMs, as recorded by tools/rpm_metadata.py.
#
#   import ./nix/rpm { inherit system path; metadata = builtins.fromJSON (builtins.readFile ./el8.json); }
#
# Every entry of the metadata becomes a derivation (the name the RPM has):
# the RPM is fetched by its recorded address and sha256, unpacked with
# rpm2cpio and cpio, and its FHS trees moved to the `out` and `dev` outputs
# (see unpack.sh). `overlays` (functions `final: prev: { ... }`) are applied
# in order over the set, each seeing the final packages, the way nixpkgs'
# overlays and `lib.makeScope`'s `overrideScope` compose; ./overrides.nix is
# the first, fixing what RPMs' FHS paths break. A package's `override`
# changes its derivation's attributes (`postInstall` runs after unpacking).
{ system
  # PATH for the builders: rpm2cpio, cpio, coreutils, findutils, grep, sed
, path
, metadata
, shell ? "/bin/sh"
, fetch ? (entry: builtins.fetchurl { inherit (entry) url sha256; name = entry.file; })
, overlays ? [ ]
}:

let
  fix = f: let final = f final; in final;
  extends = overlay: f: final: let prev = f final; in prev // overlay final prev;
  mkRpm = attrs: builtins.derivation attrs // { override = change: mkRpm (attrs // change attrs); };
  package = entry: mkRpm {
    name = "${entry.name}-${entry.version}-${entry.release}";
    pname = entry.name;
    inherit (entry) version;
    inherit system;
    builder = shell;
    args = [ "-c" ". ${./unpack.sh}" ];
    outputs = [ "out" "dev" ];
    src = fetch entry;
    PATH = path;
    postInstall = "";
  };
  base = _final: builtins.mapAttrs (_: package) metadata.packages;
in
fix (builtins.foldl' (f: overlay: extends overlay f) base ([ (import ./overrides.nix) ] ++ overlays))
