# VD_INSTALL_DIRS: where systemd units, sysusers.d and tmpfiles.d files and
# bash completion go.  Defaults stay under $prefix so that make distcheck
# works; packages pass the system's paths (see packaging/debian/rules).
AC_DEFUN([VD_INSTALL_DIRS], [
  AC_ARG_WITH([systemdsystemunitdir],
    [AS_HELP_STRING([--with-systemdsystemunitdir=DIR], [systemd units @<:@PREFIX/lib/systemd/system@:>@])],
    [], [with_systemdsystemunitdir='${prefix}/lib/systemd/system'])
  AC_ARG_WITH([sysusersdir],
    [AS_HELP_STRING([--with-sysusersdir=DIR], [sysusers.d files @<:@PREFIX/lib/sysusers.d@:>@])],
    [], [with_sysusersdir='${prefix}/lib/sysusers.d'])
  AC_ARG_WITH([tmpfilesdir],
    [AS_HELP_STRING([--with-tmpfilesdir=DIR], [tmpfiles.d files @<:@PREFIX/lib/tmpfiles.d@:>@])],
    [], [with_tmpfilesdir='${prefix}/lib/tmpfiles.d'])
  AC_ARG_WITH([bashcompletiondir],
    [AS_HELP_STRING([--with-bashcompletiondir=DIR], [bash completions @<:@DATADIR/bash-completion/completions@:>@])],
    [], [with_bashcompletiondir='${datadir}/bash-completion/completions'])
  AC_SUBST([systemdsystemunitdir], [$with_systemdsystemunitdir])
  AC_SUBST([sysusersdir], [$with_sysusersdir])
  AC_SUBST([tmpfilesdir], [$with_tmpfilesdir])
  AC_SUBST([bashcompletiondir], [$with_bashcompletiondir])
])
